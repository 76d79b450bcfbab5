// The service worker of the citizen's ticket page (served as /t/sw.js, scope /t/). It is
// there only because Android's Chrome shows a page's notifications through one
// (registration.showNotification); it caches nothing and handles no request. Touching a
// notification brings the ticket's page to the front.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({type: "window"}).then((pages) => {
    if (pages.length) return pages[0].focus();
    return undefined;
  }));
});
