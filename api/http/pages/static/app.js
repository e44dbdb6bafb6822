// Small helpers for the pages; everything works without JavaScript too.
document.addEventListener("DOMContentLoaded", () => {
  // A button with data-confirm asks before its form is sent.
  document.querySelectorAll("[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });
  // A <details> opened by keyboard or click moves focus to its first field.
  document.querySelectorAll("details").forEach((details) => {
    details.addEventListener("toggle", () => {
      if (!details.open) return;
      const field = details.querySelector("input, select, textarea");
      if (field) field.focus();
    });
  });
});
