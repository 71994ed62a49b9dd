// The web client's service worker (issue 15): shows the notifier's pushes. The payload is
// {title, body, badge, tag, data: {roomId, seq, messageId, senderId}}; `tag` is the room, so a
// newer push for the room replaces the shown one. A click opens (or focuses) the client.

self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = { body: event.data && event.data.text() }; }
  const shown = self.registration.showNotification(data.title || 'tidings', {
    body: data.body || 'New message',
    tag: data.tag,
    data: data.data || {},
  });
  const badge = self.navigator && self.navigator.setAppBadge && Number.isInteger(data.badge)
    ? self.navigator.setAppBadge(data.badge).catch(() => {}) : Promise.resolve();
  event.waitUntil(Promise.all([shown, badge]));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const room = event.notification.data && event.notification.data.roomId;
  const url = room ? `/?room=${encodeURIComponent(room)}` : '/';
  event.waitUntil(self.clients.matchAll({ type: 'window' }).then((windows) => {
    const open = windows.find((w) => 'focus' in w);
    return open ? open.focus() : self.clients.openWindow(url);
  }));
});
