// The API reference page: Swagger UI (loaded by the page as a plain script) reading the
// server's own OpenAPI document.
window.SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  tryItOutEnabled: false,
  validatorUrl: null,
});
