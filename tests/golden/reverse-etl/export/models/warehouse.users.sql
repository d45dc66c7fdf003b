SELECT
  u.id AS user_id,
  u.email,
  u.first_name,
  p.name AS plan
FROM analytics.users AS u
JOIN analytics.plans AS p ON p.id = u.plan_id
WHERE u.deleted_at IS NULL
