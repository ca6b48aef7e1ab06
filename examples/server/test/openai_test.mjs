// Drives a running deepseek-server with the official OpenAI client: completions with and without
// streaming, reasoning content, a tool-call round trip, refused requests, concurrent requests
// and a client that hangs up mid-stream; on a model with a vision tower, chats with images. The
// served model has random weights, so replies are noise: the checks are on shapes, agreement
// between calls and the server's behaviour.
// Environment: DS_SERVER_URL (http://host:port), DS_MODEL_ID, DS_MODEL_DIR (the checkpoint the
// server runs), DS_MAX_BODY (the server's limit), DS_IMAGE_PNG (a picture to send); the server
// runs with a context of 2048 tokens and a prefix cache in a folder. DS_PHASE picks the tests:
// main (a V4 model), restarted (the same server restarted: it kept its cached prefixes) or
// vision (a V4.1 model with a vision tower).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const base = process.env.DS_SERVER_URL;
const modelId = process.env.DS_MODEL_ID;
const modelDir = process.env.DS_MODEL_DIR;
const maxBody = Number(process.env.DS_MAX_BODY);
const pngUrl = `data:image/png;base64,${readFileSync(process.env.DS_IMAGE_PNG).toString('base64')}`;
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
const visionTests = [];
const test = (name, fn) => tests.push([name, fn]);

// Expects the request to be refused with 400 naming `param`, streamed or not; `says`, when
// given, matches the message.
async function refused(body, param, says = /./) {
  for (const streamed of [false, true]) {
    await assert.rejects(client.chat.completions.create({ model: modelId, max_tokens: 8, ...body, stream: streamed }), (e) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.param, param);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, says);
      return true;
    });
  }
}

// A user message of text and image_url parts, in the given order (strings are text).
const withImages = (...parts) => user(parts.map((p) => (typeof p === 'string' ? { type: 'text', text: p } : p)));
const image = (url, detail) => ({ type: 'image_url', image_url: detail ? { url, detail } : { url } });

// The ids of the tokens that end a generation (EOS and the turn openers), from the checkpoint.
function stopTokenIds() {
  const eos = JSON.parse(readFileSync(`${modelDir}/config.json`, 'utf8')).eos_token_id;
  const turns = JSON.parse(readFileSync(`${modelDir}/tokenizer.json`, 'utf8')).added_tokens
    .filter((t) => ['<｜User｜>', '<｜Assistant｜>', '<｜latest_reminder｜>'].includes(t.content)).map((t) => t.id);
  return [eos, ...turns];
}

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
  for (const [body, param] of cases) await refused(body, param);
});

test('an image for a model without vision is a 400 saying it takes no images', async () => {
  await refused({ messages: [withImages('What is this?', image(pngUrl))] }, 'messages[0].content[1]', /takes no images/);
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
  // A body under --max-body sent form-encoded (curl -d's type) meets httplib's own 8 KiB limit:
  // the message says to send JSON.
  const form = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ messages: [user('x'.repeat(10000))] }) });
  assert.match((await expect(form, 413)).error.message, /Content-Type: application\/json/);
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
  // The server writes tokens without waiting for the client to read them, so the generation
  // must outlast the client's hang-up: with the tokens that end it banned it runs to the end
  // of the context (seconds), where on its own it could end (EOS) before a slowed client hangs up.
  const controller = new AbortController();
  const endless = Object.fromEntries(stopTokenIds().map((id) => [id, -100]));
  const s = await client.chat.completions.create(
    { model: modelId, messages: [user('Go on forever.')], mode: 'fast', max_tokens: 100000, stream: true, seed: 9,
      logit_bias: endless },
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

visionTests.push(['a chat with an image_url data URL: choices, and usage counting the image span', async () => {
  const ask = (...parts) => complete({ messages: [withImages(...parts)], mode: 'fast', seed: 11 });
  const text = await ask('What is ', ' this?');
  const one = await ask('What is ', image(pngUrl, 'high'), ' this?');
  const two = await ask('What is ', image(pngUrl), ' this?', image(pngUrl, 'low'));
  assert.equal(typeof one.choices[0].message.content, 'string');
  assert.equal(one.usage.prompt_tokens_details.cached_tokens, 0);  // no prefix reuse with images
  // Each image takes its span's positions (its start, rows and end): every image the same.
  const span = one.usage.prompt_tokens - text.usage.prompt_tokens;
  assert.ok(span >= 3, `an image took ${span} prompt tokens`);
  assert.equal(two.usage.prompt_tokens - one.usage.prompt_tokens, span);
  // The same request streamed gives the same reply and usage.
  const s = await stream({ messages: [withImages('What is ', image(pngUrl, 'high'), ' this?')], mode: 'fast', seed: 11 });
  assert.equal(s.content, one.choices[0].message.content);
  assert.equal(s.finish, one.choices[0].finish_reason);
  assert.equal(s.usage.prompt_tokens, one.usage.prompt_tokens);
  // An earlier turn's image stays in the conversation.
  const later = await complete({
    messages: [withImages(image(pngUrl), 'What is this?'), { role: 'assistant', content: 'A picture.' }, user('Sure?')],
    mode: 'fast', seed: 11 });
  assert.ok(later.usage.prompt_tokens > span);
}]);

visionTests.push(['image refusals: http(s) URLs, bad base64, no picture, no user message; the server carries on', async () => {
  const at = 'messages[0].content[1].image_url.url';
  await refused({ messages: [withImages('x', image('https://example.com/cat.png'))] }, at, /only data URLs/);
  await refused({ messages: [withImages('x', image('http://127.0.0.1:1/cat.png'))] }, at, /does not fetch/);
  await refused({ messages: [withImages('x', image('data:image/png;base64,iVBO!w0K'))] }, at, /base64/);
  await refused({ messages: [withImages('x', image('data:image/png;base64,iVBORw0KGgo'))] }, at, /not a multiple of 4/);
  const hello = Buffer.from('hello, world').toString('base64');
  await refused({ messages: [withImages('x', image(`data:image/png;base64,${hello}`))] }, at, /not a PNG or JPEG/);
  await refused({ messages: [withImages('x', image(`data:text/plain;base64,${hello}`))] }, at, /not an image/);
  await refused({ messages: [withImages('x', { type: 'image_url', image_url: {} })] }, at, /is required/);
  await refused({ messages: [{ role: 'system', content: [image(pngUrl)] }, user('x')] }, 'messages[0].content[0]',
                /only user messages/);
  const r = await complete({ messages: [withImages(image(pngUrl), 'Still there?')], mode: 'fast', seed: 2 });
  assert.ok(r.usage.prompt_tokens > 3);
}]);

const phases = { main: tests, restarted: restartedTests, vision: visionTests };
const phase = phases[process.env.DS_PHASE];
assert.ok(phase, `DS_PHASE must be one of ${Object.keys(phases).join(', ')}`);
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
