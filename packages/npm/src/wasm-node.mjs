// The wasm build in Node (`import "keyseal/wasm"`): compiled synchronously from the
// file next to it. Used by the test suite to run the wasm backend in Node.
import { readFileSync } from "node:fs";
import * as native from "../dist/wasm/keyseal_wasm.js";
import { createApi } from "./api.mjs";

const bytes = readFileSync(new URL("../dist/wasm/keyseal_wasm_bg.wasm", import.meta.url));
native.initSync({ module: new WebAssembly.Module(bytes) });
const api = createApi(native, "wasm");

export const {
  KeysealError, MalformedError, SignatureError, TimeError, ClaimsError, PolicyError, CredentialError, ConfigError, RegistryError, InternalError, ERROR_CODES, VERSION, BACKEND, ApiKey, KeyFormat, KeyParts, parseKey, Pepper, PepperSet, sha256Hex, hmacSha256, TokenKey, Keyset, KeyPolicy, Meter, Credential, extractCredential, expressMiddleware, verifyRequest, verifyRequestSync, honoMiddleware, KeysealClient,
} = api;
export default api;
