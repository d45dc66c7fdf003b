async function onTrack(event) {
  if (event.properties?.email) {
    delete event.properties.email
  }
  return event
}

async function onIdentify(event) {
  return event
}
