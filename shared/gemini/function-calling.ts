import type { IssueCodeName } from './issue-codes.ts';

/**
 * Function calling in a tuning example, as Google's "Tune function calling" page shows it
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/models/tune-function-calling): the
 * example's `tools` hold `functionDeclarations`; a `model` turn calls a declared function with a
 * `functionCall` part; the `user` turn after it answers with `functionResponse` parts. Field rules
 * are @google/genai's FunctionDeclaration / FunctionCall / FunctionResponse: a declaration's name
 * "must start with a letter or an underscore … a-z, A-Z, 0-9, or contain underscores, dots,
 * colons and dashes, with a maximum length of 128"; `args` and `response` are JSON objects.
 */
export type Report = (code: IssueCodeName, message: string, path: string) => void;

const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const DECLARATION_FIELDS = new Set(['name', 'description', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema']);

/** The names the example's tools declare; every problem with a declaration is reported. */
export function declaredFunctions(tools: unknown, report: Report): Set<string> {
  const names = new Set<string>();
  if (tools === undefined) return names;
  if (!Array.isArray(tools)) {
    report('invalid_tools', 'tools must be a list of {"functionDeclarations": [...]}', 'tools');
    return names;
  }
  tools.forEach((tool, index) => {
    const path = `tools[${index}]`;
    if (!isObject(tool) || !Array.isArray(tool.functionDeclarations)) {
      report('invalid_tools', 'a tool in a tuning example holds "functionDeclarations" (a list); other tools are not tuned', path);
      return;
    }
    for (const key of Object.keys(tool)) {
      if (key !== 'functionDeclarations')
        report('unknown_field', `unknown field "${key}" in a tool: tuning examples declare functions only`, `${path}.${key}`);
    }
    tool.functionDeclarations.forEach((declaration, at) => {
      const where = `${path}.functionDeclarations[${at}]`;
      if (!isObject(declaration)) {
        report('invalid_function_declaration', 'a function declaration must be an object with a "name"', where);
        return;
      }
      for (const key of Object.keys(declaration)) {
        if (!DECLARATION_FIELDS.has(key)) report('unknown_field', `unknown field "${key}" in a function declaration`, `${where}.${key}`);
      }
      const { name } = declaration;
      if (typeof name !== 'string' || !FUNCTION_NAME.test(name)) {
        report(
          'invalid_function_declaration',
          `function name ${JSON.stringify(name)} must start with a letter or "_" and hold only letters, digits, "_", ".", ":" or "-" (at most 128)`,
          `${where}.name`,
        );
      } else if (names.has(name)) {
        report('invalid_function_declaration', `function "${name}" is declared twice`, `${where}.name`);
      } else {
        names.add(name);
      }
      if (declaration.description !== undefined && typeof declaration.description !== 'string') {
        report('invalid_function_declaration', 'description must be text', `${where}.description`);
      }
      if (declaration.parameters !== undefined && declaration.parametersJsonSchema !== undefined) {
        report('invalid_function_declaration', 'give parameters or parametersJsonSchema, not both', where);
      }
      for (const key of ['parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema'] as const) {
        if (declaration[key] !== undefined && !isObject(declaration[key]))
          report('invalid_function_declaration', `${key} must be a schema object`, `${where}.${key}`);
      }
    });
  });
  return names;
}

/** A `functionCall` part: in a model turn, naming a declared function, with object args. Returns the called name. */
export function checkFunctionCall(call: unknown, role: unknown, declared: Set<string>, path: string, report: Report): string | null {
  if (role !== 'model') report('misplaced_function_part', 'a functionCall belongs in a "model" turn: it is what the model does', path);
  if (!isObject(call)) {
    report('invalid_function_call', 'functionCall must be {"name": ..., "args": {...}}', path);
    return null;
  }
  for (const key of Object.keys(call)) {
    if (key !== 'name' && key !== 'args' && key !== 'id')
      report('unknown_field', `unknown field "${key}" in a functionCall`, `${path}.${key}`);
  }
  if (call.args !== undefined && !isObject(call.args))
    report('invalid_function_call', 'args must be a JSON object of argument names to values', `${path}.args`);
  if (typeof call.name !== 'string' || call.name === '') {
    report('invalid_function_call', 'functionCall needs the name of the function', `${path}.name`);
    return null;
  }
  if (!declared.has(call.name)) {
    const known =
      declared.size > 0
        ? `the example declares ${[...declared].map((name) => `"${name}"`).join(', ')}`
        : 'the example declares no functions (add them under "tools")';
    report('undeclared_function', `the call names "${call.name}", which no tool declares: ${known}`, `${path}.name`);
  }
  return call.name;
}

/** A `functionResponse` part: in a user turn, answering a function the model turn just before it called. */
export function checkFunctionResponse(
  response: unknown,
  role: unknown,
  calledBefore: ReadonlySet<string>,
  path: string,
  report: Report,
): void {
  if (role !== 'user')
    report(
      'misplaced_function_part',
      'a functionResponse belongs in a "user" turn, right after the model turn that called the function',
      path,
    );
  if (!isObject(response)) {
    report('invalid_function_response', 'functionResponse must be {"name": ..., "response": {...}}', path);
    return;
  }
  for (const key of Object.keys(response)) {
    if (key !== 'name' && key !== 'response' && key !== 'id')
      report('unknown_field', `unknown field "${key}" in a functionResponse`, `${path}.${key}`);
  }
  if (!isObject(response.response))
    report(
      'invalid_function_response',
      'response must be a JSON object (Google: use "output" for the result, "error" for an error)',
      `${path}.response`,
    );
  if (typeof response.name !== 'string' || response.name === '') {
    report('invalid_function_response', 'functionResponse needs the name of the function it answers', `${path}.name`);
  } else if (!calledBefore.has(response.name)) {
    const called = calledBefore.size > 0 ? `it called ${[...calledBefore].map((name) => `"${name}"`).join(', ')}` : 'it called no function';
    report(
      'unanswered_function_response',
      `this answers "${response.name}", but the model turn before it did not call it (${called})`,
      `${path}.name`,
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
