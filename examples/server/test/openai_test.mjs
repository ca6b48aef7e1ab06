// Drives a running deepseek-server with the official OpenAI client: completions with and without
// streaming, reasoning content, a tool-call round trip, refused requests, concurrent requests
// and a client that hangs up mid-stream. The served model has random weights, so replies are
// noise: the checks are on shapes, agreement between calls and the server's behaviour.
// Environment: DS_SERVER_URL (http://host:port), DS_MODEL_ID, DS_MAX_BODY (the server's limit);
// the server runs with a context of 2048 tokens and a prefix cache in a folder. With
// DS_PHASE=restarted only the check that a restarted server kept its cached prefixes runs.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const base = process.env.DS_SERVER_URL;
const modelId = process.env.DS_MODEL_ID;
const maxBody = Number(process.env.DS_MAX_BODY);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120000 });

const user = (content) => ({ role: 'user', content });
const finishReasons = ['stop', 'length', 'tool_calls'];

function checkUsage(usage) {
  assert.ok(usage.prompt_tokens > 0, 'prompt_tokens');
  assert.ok(usage.completion_tokens > 0, 'completion_tokens');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

async function complete(params) {
  const r = await client.chat.completions.create({ model: modelId, max_tokens: 8, ...params });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, modelId);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(finishReasons.includes(r.choices[0].finish_reason), r.choices[0].finish_reason);
  checkUsage(r.usage);
  return r;
}

// Collects a stream's deltas per field.
async function stream(params, signal) {
  const s = await client.chat.completions.create(
    { model: modelId, max_tokens: 8, ...params, stream: true, stream_options: { include_usage: true } },
    { signal });
  const out = { content: '', reasoning: '', finish: null, usage: null, chunks: 0, role: null };
  for await (const chunk of s) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    out.chunks++;
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta.role) out.role = choice.delta.role;
      out.content += choice.delta.content ?? '';
      out.reasoning += choice.delta.reasoning_content ?? '';
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

const tests = [];
const restartedTests = [];
const test = (name, fn) => tests.push([name, fn]);

// A long system prompt that many conversations share (about 700 tokens of the tiny tokenizer).
const sharedSystem = { role: 'system', content: Array.from({ length: 40 }, (_, i) => `Rule ${i}: answer briefly and kindly.`).join(' ') };
const sharedParams = (i) => ({ messages: [sharedSystem, user(`Question ${i}: what now?`)], mode: 'fast', seed: 500 + i });

test('models and health', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [modelId]);
  assert.equal((await client.models.retrieve(modelId)).id, modelId);
  await assert.rejects(client.models.retrieve('other'), (e) => e.status === 404 && e.code === 'model_not_found');
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
});

test('non-streaming completion, fast mode', async () => {
  const r = await complete({ messages: [user('Hello!')], mode: 'fast', seed: 1 });
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.equal(r.choices[0].message.reasoning_content, undefined);
});

test('streaming completion equals the non-streaming one with the same seed', async () => {
  const params = { messages: [user('Tell me a story.')], mode: 'fast', seed: 5, temperature: 0.8 };
  const whole = await complete(params);
  const s = await stream(params);
  assert.equal(s.role, 'assistant');
  assert.ok(s.chunks >= 3, `only ${s.chunks} chunks`);
  assert.equal(s.content, whole.choices[0].message.content);
  assert.equal(s.finish, whole.choices[0].finish_reason);
  checkUsage(s.usage);
  assert.equal(s.usage.completion_tokens, whole.usage.completion_tokens);
});

test('reasoning_content in expert modes, streamed and not', async () => {
  for (const extra of [{ mode: 'expert' }, { mode: 'expert-max' }, { thinking: { type: 'enabled' } },
                       { reasoning_effort: 'max' }]) {
    const params = { messages: [user('Why is the sky blue?')], seed: 3, ...extra };
    const r = await complete(params);
    assert.ok(r.choices[0].message.reasoning_content?.length > 0, `no reasoning with ${JSON.stringify(extra)}`);
    const s = await stream(params);
    assert.equal(s.reasoning, r.choices[0].message.reasoning_content);
  }
  const fast = await complete({ messages: [user('Hi')], thinking: { type: 'disabled' }, seed: 3 });
  assert.equal(fast.choices[0].message.reasoning_content, undefined);
});

test('tool-call round trip: tools, the assistant call and its result are accepted', async () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  }];
  const first = await complete({ messages: [user('Weather in Paris?')], tools, mode: 'fast', seed: 4 });
  // The random model does not call tools itself (the response side of tool calls is covered by
  // the server's C++ unit tests); the history below is what a client sends after a call.
  const messages = [
    { role: 'system', content: 'You are a weather bot.' },
    user('Weather in Paris?'),
    {
      role: 'assistant', content: null, reasoning_content: 'I should call the tool.',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 18}' },
  ];
  for (const mode of ['fast', 'expert']) {
    const r = await complete({ messages, tools, mode, seed: 6 });
    assert.ok(first.choices[0].message.content !== undefined);
    assert.ok(r.usage.prompt_tokens > first.usage.prompt_tokens);
    const s = await stream({ messages, tools, mode, seed: 6 });
    assert.equal(s.content, r.choices[0].message.content ?? '');
  }
});

test('bad requests are answered with 400 and name the field', async () => {
  const cases = [
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ messages: [user('x')], mode: 'turbo' }, 'mode'],
    [{ messages: [user('x')], temperature: 5 }, 'temperature'],
    [{ messages: [user('x')], max_tokens: 0 }, 'max_tokens'],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ messages: [user('x')], tools: [{ type: 'function', function: {} }] }, 'tools[0].function.name'],
    [{ messages: [user('x')], stop: [1] }, 'stop[0]'],
    [{ messages: [user('x')], logit_bias: { 99999: 1 } }, 'logit_bias.99999'],
  ];
  for (const [body, param] of cases) {
    for (const streamed of [false, true]) {
      await assert.rejects(client.chat.completions.create({ model: modelId, ...body, stream: streamed }), (e) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.param, param);
        assert.equal(e.type, 'invalid_request_error');
        return true;
      });
    }
  }
});

test('a prompt longer than the context is a 400, streamed or not', async () => {
  for (const streamed of [false, true]) {
    await assert.rejects(
      client.chat.completions.create({ model: modelId, messages: [user('hello '.repeat(3000))], stream: streamed }),
      (e) => e.status === 400 && e.code === 'context_length_exceeded');
  }
});

test('HTTP errors in the OpenAI shape: bad JSON 400, unknown route 404, wrong method 405, big body 413', async () => {
  const expect = async (response, status) => {
    assert.equal(response.status, status);
    const body = await response.json();
    assert.equal(typeof body.error.message, 'string');
    assert.ok('type' in body.error && 'param' in body.error && 'code' in body.error);
    return body;
  };
  const post = (path, body) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await expect(await post('/v1/chat/completions', '{"messages": ['), 400);
  await expect(await fetch(`${base}/v1/nothing`), 404);
  const wrong = await fetch(`${base}/v1/chat/completions`);
  await expect(wrong, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  await expect(await post('/v1/models', '{}'), 405);
  await expect(await post('/v1/chat/completions', JSON.stringify({ messages: [user('x'.repeat(maxBody))] })), 413);
});

test('concurrent requests all succeed, each as if alone', async () => {
  const params = (i) => ({ messages: [user(`Request number ${i}`)], mode: i % 2 ? 'fast' : 'expert', seed: 100 + i });
  const alone = [];
  for (let i = 0; i < 6; i++) alone.push(await complete(params(i)));
  const together = await Promise.all([...Array(6).keys()].map((i) => (i % 3 === 0 ? stream(params(i)) : complete(params(i)))));
  for (let i = 0; i < 6; i++) {
    const expected = alone[i].choices[0].message;
    const got = together[i].choices ? together[i].choices[0].message : { content: together[i].content, reasoning_content: together[i].reasoning || undefined };
    assert.equal(got.content, expected.content, `request ${i}`);
    assert.equal(got.reasoning_content, expected.reasoning_content, `request ${i}`);
  }
});

test('many clients sharing one long system prompt: none lost, each as if alone, the prefix reused', async () => {
  await complete(sharedParams(0));  // computes the system prompt and caches it
  const alone = [];
  for (let i = 1; i <= 10; i++) alone.push(await complete(sharedParams(i)));
  const together = await Promise.all([...Array(10).keys()].map((i) => (i % 2 ? stream(sharedParams(i + 1)) : complete(sharedParams(i + 1)))));
  for (let i = 0; i < 10; i++) {
    const expected = alone[i].choices[0].message.content;
    const got = together[i].choices ? together[i].choices[0].message.content : together[i].content;
    assert.equal(got, expected, `request ${i + 1}`);
    // The system prompt is most of each prompt; the cache holds it up to the first user turn.
    const { prompt_tokens: prompt, prompt_tokens_details: { cached_tokens: cached } } = alone[i].usage;
    assert.ok(cached >= 0.8 * prompt, `request ${i + 1} reused ${cached} of ${prompt} prompt tokens`);
  }
});

restartedTests.push(['a restarted server resumes the shared system prompt from its --kv-dir', async () => {
  const r = await complete(sharedParams(99));
  const { prompt_tokens: prompt, prompt_tokens_details: { cached_tokens: cached } } = r.usage;
  assert.ok(cached >= 0.8 * prompt, `cached ${cached} of ${prompt} prompt tokens`);
}]);

test('a client that hangs up mid-stream cancels its generation; the server carries on', async () => {
  const controller = new AbortController();
  const s = await client.chat.completions.create(
    { model: modelId, messages: [user('Go on forever.')], mode: 'fast', max_tokens: 100000, stream: true, seed: 9 },
    { signal: controller.signal });
  let seen = 0;
  for await (const chunk of s) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (++seen === 3) {
      controller.abort();  // the client closes the connection
      break;
    }
  }
  assert.equal(seen, 3, 'the stream ended before the client hung up');
  // The server log shows "cancelled (client gone)" (checked by run-openai-test.sh); the
  // generators are free again for the next requests.
  await Promise.all([1, 2].map((i) => complete({ messages: [user(`after ${i}`)], seed: i })));
});

const phase = process.env.DS_PHASE === 'restarted' ? restartedTests : tests;
let failed = 0;
for (const [name, fn] of phase) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n${e.stack ?? e}`);
  }
}
console.log(`${phase.length - failed} of ${phase.length} passed`);
process.exit(failed ? 1 : 0);
