// SPDX-License-Identifier: AGPL-3.0-only
// The lint `npm test` runs first (scripts/test.mjs): a few rules that find bugs, not a style.
// Formatting is left as it is. Only the promise rules need type information.
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

/** Rules that find mistakes in any of our files. */
const mistakes = {
  // Library code logs with pino; the CLIs write their output to process.stdout/stderr.
  "no-console": "error",
  "no-debugger": "error",
  "no-dupe-keys": "error",
  "no-duplicate-case": "error",
  "no-unreachable": "error",
  "no-unsafe-finally": "error",
  "no-self-assign": "error",
  "no-self-compare": "error",
  "no-sparse-arrays": "error",
  "no-cond-assign": ["error", "except-parens"],
  "no-constant-condition": "error",
  "no-empty": ["error", { allowEmptyCatch: true }],
  "no-async-promise-executor": "error",
  "no-useless-catch": "error",
  "no-template-curly-in-string": "error",
  "no-throw-literal": "error",
  "no-eval": "error",
  "no-implied-eval": "error",
  "no-new-func": "error",
  "no-var": "error",
  "prefer-const": "error",
  eqeqeq: ["error", "smart"],
  // A new error thrown in a catch keeps the one it replaces as its cause.
  "preserve-caught-error": "error",
  "no-restricted-syntax": ["error",
    { selector: "VariableDeclarator[id.name='sleep'], FunctionDeclaration[id.name='sleep']", message: "Use Node's: import { setTimeout as sleep } from \"node:timers/promises\"." },
    { selector: "FunctionDeclaration[id.name=/^(errText|errorText|errMessage)$/]", message: "Use errorMessage() from shared/errors." },
    {
      // Without it, an error says "Error: ..." wherever it is shown.
      selector: "ClassDeclaration[superClass.name='Error']:not(:has(PropertyDefinition[key.name='name'])):not(:has(AssignmentExpression[left.object.type='ThisExpression'][left.property.name='name']))",
      message: "An error class sets its name to its own class name (override readonly name = \"...\").",
    },
  ],
};

export default defineConfig(
  { ignores: ["dist/**", "node_modules/**", "var/**", ".bench-data/**"] },
  {
    files: ["**/*.mjs"],
    languageOptions: { sourceType: "module", ecmaVersion: 2023 },
    rules: mistakes,
  },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      ...mistakes,
      "@typescript-eslint/no-explicit-any": "error",
      // A promise nobody awaits loses its failure, or acks before the publish it should wait for.
      "@typescript-eslint/no-floating-promises": ["error", {
        // node:test's test() and describe() return promises the runner itself awaits.
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite", "before", "after", "beforeEach", "afterEach"] }],
      }],
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
);
