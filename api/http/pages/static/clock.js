// Check-in and check-out (签到/签退): the box "also record where I am" shows only when the phone
// offers a position; ticked, the form asks the browser for one before it is sent (and is sent
// without it if the helper or the phone says no). Unticked, no position is asked for at all.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-clock]").forEach((form) => {
    const box = form.querySelector("[data-geo]");
    if (box && "geolocation" in navigator) box.hidden = false;
    form.addEventListener("submit", (event) => {
      const share = form.querySelector("input[name=share_position]");
      if (!share || !share.checked || !("geolocation" in navigator) || form.dataset.located) return;
      event.preventDefault();
      const send = () => {
        form.dataset.located = "1";
        form.submit();
      };
      navigator.geolocation.getCurrentPosition(
        (position) => {
          form.elements.lat.value = position.coords.latitude;
          form.elements.lon.value = position.coords.longitude;
          form.elements.accuracy.value = position.coords.accuracy;
          send();
        },
        () => {
          share.checked = false;
          send();
        },
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
      );
    });
  });
});
