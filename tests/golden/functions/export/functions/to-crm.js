async function onIdentify(event, settings) {
  const url = `https://crm.example.com/${settings.region || 'us'}/contacts`
  const response = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${settings.apiToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: event.userId, traits: event.traits })
  })
  if (response.status >= 500) {
    throw new RetryError(`CRM answered ${response.status}`)
  }
}

async function onBatch(events, settings) {
  for (const event of events) {
    if (event.type === 'identify') {
      await onIdentify(event, settings)
    }
  }
}
