// Node (import): the same instance as require("keyseal"), so classes and instanceof
// checks are shared between ESM and CJS code in one process.
import { createRequire } from "node:module";

const api = createRequire(import.meta.url)("./node.cjs");

export const {
  KeysealError, MalformedError, SignatureError, TimeError, ClaimsError, PolicyError, CredentialError, ConfigError, RegistryError, InternalError, ERROR_CODES, VERSION, BACKEND, ApiKey, KeyFormat, KeyParts, parseKey, Pepper, PepperSet, sha256Hex, hmacSha256, TokenKey, Keyset, KeyPolicy, Meter, Credential, extractCredential, expressMiddleware, verifyRequest, verifyRequestSync, honoMiddleware, KeysealClient,
} = api;
export default api;
