// Starts Swagger UI (loaded by the page before this module runs) on this service's own
// OpenAPI document. A file rather than an inline script, so the page's CSP refuses those.
const root = document.getElementById("swagger-ui");

window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  // The default validator is an external service, and the badge it draws an external image.
  validatorUrl: null,
  // ?url= and ?configUrl= must not point this page at another origin's document.
  queryConfigEnabled: false,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
