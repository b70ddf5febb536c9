// The API reference: Swagger UI (swagger-ui-dist, bundled from npm) rendering the OpenAPI document
// served beside this page. A file rather than an inline script: the console's CSP allows only
// scripts of its own origin.
window.SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  // Schemas open two levels deep, so a route's body shows its fields without clicking.
  defaultModelExpandDepth: 2,
  defaultModelsExpandDepth: 1,
  defaultModelRendering: 'model',
  displayOperationId: false,
  showExtensions: true,
  // Tried from the page, calls go to the API the document names (`servers`); keys stay in the page.
  tryItOutEnabled: false,
  // No call to the swagger.io validator (the page works offline).
  validatorUrl: null,
});
