select
    id as user_id,
    lower(email) as email,
    plan,
    created_at
from {{ source('app', 'users') }}
