// workerd, browsers (through a bundler) and the default condition: the wasm build,
// instantiated synchronously from a statically imported, already compiled module (the
// way Cloudflare Workers and wrangler/esbuild load .wasm). No fetch, no top-level await.
import wasmModule from "../dist/wasm/keyseal_wasm_bg.wasm";
import * as native from "../dist/wasm/keyseal_wasm.js";
import { createApi } from "./api.mjs";

native.initSync({ module: wasmModule });
const api = createApi(native, "wasm");

export const {
  KeysealError, MalformedError, SignatureError, TimeError, ClaimsError, PolicyError, CredentialError, ConfigError, RegistryError, InternalError, ERROR_CODES, VERSION, BACKEND, ApiKey, KeyFormat, KeyParts, parseKey, Pepper, PepperSet, sha256Hex, hmacSha256, TokenKey, Keyset, KeyPolicy, Meter, Credential, extractCredential, expressMiddleware, verifyRequest, verifyRequestSync, honoMiddleware, KeysealClient,
} = api;
export default api;
