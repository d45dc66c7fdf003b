select
    id as order_id,
    user_id,
    {{ cents_to_dollars('amount_cents') }} as amount,
    ordered_at
from {{ source('app', 'orders') }}
