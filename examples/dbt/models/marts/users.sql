select
    u.user_id,
    u.email,
    u.plan,
    count(o.order_id) as orders,
    {{ cents_to_dollars('coalesce(sum(o.amount_cents), 0)') }} as lifetime_value
from {{ ref('stg_users') }} as u
left join {{ ref('stg_orders') }} as o on o.user_id = u.user_id
group by u.user_id, u.email, u.plan
