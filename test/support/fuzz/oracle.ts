/**
 * What every answer must satisfy, whatever was sent: no 5xx; every 4xx an RFC 9457
 * problem (application/problem+json with type, title, status and code); and B, holding A's
 * ids, learns nothing: a 404, or exactly the refusal A gets for the same request (input
 * validation that runs before any lookup), never a success and never a 403.
 */
export interface Answer {
  status: number;
  contentType: string;
  text: string;
  /** From the OpenAI-compatible surface (/v1/*): its errors are OpenAI's `{ error: { message, type, code } }`, by design. */
  openAi?: boolean;
}

function openAiErrorProblems(answer: Answer): string[] {
  const problems: string[] = [];
  if (!answer.contentType.startsWith('application/json')) problems.push(`a ${answer.status} with content-type "${answer.contentType}"`);
  let body: any;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return [...problems, `a ${answer.status} whose body is not JSON`];
  }
  for (const field of ['message', 'type', 'code'] as const) {
    if (typeof body?.error?.[field] !== 'string' || body.error[field] === '') problems.push(`OpenAI error without "${field}"`);
  }
  return problems;
}

export function answerProblems(answer: Answer): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`answered ${answer.status}`);
  if (answer.status >= 400 && answer.openAi) return [...problems, ...openAiErrorProblems(answer)];
  if (answer.status >= 400) {
    if (!answer.contentType.startsWith('application/problem+json')) problems.push(`a ${answer.status} with content-type "${answer.contentType}"`);
    let body: any;
    try {
      body = JSON.parse(answer.text);
    } catch {
      problems.push(`a ${answer.status} whose body is not JSON`);
      return problems;
    }
    for (const field of ['type', 'title', 'code'] as const) {
      if (typeof body?.[field] !== 'string' || body[field] === '') problems.push(`problem without "${field}"`);
    }
    if (body?.status !== answer.status) problems.push(`problem status ${JSON.stringify(body?.status)} on a ${answer.status}`);
  }
  return problems;
}

export function problemCode(answer: Answer): string | null {
  try {
    const body = JSON.parse(answer.text);
    return body?.code ?? body?.error?.code ?? null;
  } catch {
    return null;
  }
}

/**
 * B sent A's ids. `a` is A's answer to the same request, or null when A was not asked.
 * 429s are neutral: the limiter answers before anything is looked up, so a rate-limited B
 * proves nothing and a rate-limited A leaves nothing to compare B's refusal with.
 */
export function crossOrgProblems(b: Answer, a: Answer | null, foreignIds: string[]): string[] {
  if (foreignIds.length === 0 || b.status === 404 || b.status === 429) return [];
  const named = foreignIds.join(', ');
  if (b.status < 400) return [`B reached A's ${named}: answered ${b.status}`];
  if (b.status === 403) return [`B got 403 for A's ${named} (another org's object must be a 404)`];
  if (a?.status === 429) return [];
  if (a && a.status === b.status && problemCode(a) === problemCode(b)) return [];
  return [`B got ${b.status} ${problemCode(b)} for A's ${named}, but A gets ${a ? `${a.status} ${problemCode(a)}` : 'nothing to compare'}: the refusal depends on the object`];
}
