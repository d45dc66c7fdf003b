async function onRequest(request, settings) {
  if (request.headers.get('x-shared-secret') !== settings.sharedSecret) {
    throw new ValidationError('bad shared secret')
  }
  const body = request.json()
  Segment.track({
    event: body.type ?? 'Webhook Received',
    userId: body.user?.id,
    properties: body.data
  })
}
