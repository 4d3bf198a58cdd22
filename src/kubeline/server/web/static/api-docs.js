// Starts Swagger UI on /kubeline/api/docs. A file of its own because the pages' CSP runs no
// inline script; the OpenAPI address comes from the page, and no validator badge is fetched
// (that would be a request leaving the server). No deep links: they put a link inside each
// operation's button, which screen readers cannot reach (axe: nested-interactive).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: false,
    validatorUrl: null,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
  });
});
