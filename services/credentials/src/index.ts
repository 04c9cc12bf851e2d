export { credentialsService } from './credentials.service.js';
export { CredentialsRepository, bitOf, type CredentialsDB } from './credentials.repository.js';
export { decodeList, didWebOf, OB_CONTEXT, VC_CONTEXT } from './issuer.js';
export { issuerKeyAad } from './issuer.service.js';
