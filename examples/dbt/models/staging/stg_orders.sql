select
    id as order_id,
    user_id,
    amount_cents,
    ordered_at
from {{ source('app', 'orders') }}
