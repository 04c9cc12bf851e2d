export { gatewayService, gatewayPort, gatewaySettings } from './gateway.service.js';
export { buildOpenApi } from './openapi.js';
