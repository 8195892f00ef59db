// SPDX-License-Identifier: MIT
// Validates OpenAPI documents (file paths as arguments) with @apidevtools/swagger-parser: the
// OpenAPI 3.0 JSON Schema, every $ref resolved, path parameters declared, operationIds unique.
// Prints one line per file; exits 1 when one is invalid. Used by tests/interop/test_openapi.py.
const SwaggerParser = require("@apidevtools/swagger-parser");

(async () => {
  for (const file of process.argv.slice(2)) {
    try {
      const api = await SwaggerParser.validate(file);
      let ops = 0;
      for (const p of Object.values(api.paths)) ops += Object.keys(p).length;
      console.log(`${file}: valid OpenAPI ${api.openapi}, ${ops} operations`);
    } catch (e) {
      console.log(`${file}: INVALID: ${e.message}`);
      process.exitCode = 1;
    }
  }
})();
