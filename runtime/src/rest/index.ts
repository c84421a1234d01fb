// REST from google.api.http: the route table of the served methods, and the
// handler that transcodes a REST request into the method's call.
export { createRestRoutes, restBindings } from "./rest-bindings.js";
export { createRestHandler } from "./rest-server.js";
export type { RestHandlerOptions } from "./rest-server.js";
export { RestRouteError, RestRoutes } from "./rest-routes.js";
export type { RestBinding, RestMatch, RestRoute } from "./rest-routes.js";
export { httpRequestMessage } from "./request-message.js";
export type { HttpRequestParts } from "./request-message.js";
export { restErrorResponse } from "./rest-error.js";
export { openApiDocument, openApiPath } from "./openapi-document.js";
