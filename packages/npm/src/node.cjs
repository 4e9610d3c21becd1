"use strict";
// Node (require): the napi addon behind the shared JS API.
const { createApi } = require("../dist/api.cjs");
const native = require("../dist/keyseal.node");

module.exports = createApi(native, "napi");
