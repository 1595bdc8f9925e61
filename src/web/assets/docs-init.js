// Swagger UI over tagpay's own OpenAPI document; served from this process, no outside host.
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs', deepLinking: true });
