// A real OpenID Connect provider (npm `oidc-provider`) on loopback, for the sign-in tests.
//
//   node oidc-provider.mjs --port P --keys FILE --client-id ID --client-secret S --redirect URI[,URI]
//        --users JSON [--rotate] [--clock-offset SECONDS] [--forge EMAIL]
//
// Prints one JSON line ({"issuer": ...}) once it listens. `--users` maps a login name
// to its claims ({"email": ..., "email_verified": true, "name": ...}); any password is
// taken (the provider's own development login page). `--keys` keeps the signing keys
// between runs; `--rotate` puts a new key first (the provider signs with it and still
// publishes the old). `--clock-offset` runs the provider's clock behind or ahead, so it
// issues tokens already expired. `--forge` rewrites the ID token's address in the token
// answer, keeping the signature: a token altered on its way.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    keys: { type: "string" },
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    redirect: { type: "string" },
    users: { type: "string" },
    rotate: { type: "boolean", default: false },
    "clock-offset": { type: "string", default: "0" },
    forge: { type: "string" },
  },
});

const offset = Number(args["clock-offset"]) * 1000;
if (offset) {
  const real = Date.now;
  Date.now = () => real() + offset;
}
const { default: Provider } = await import("oidc-provider");

function newKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
}
let keys = existsSync(args.keys) ? JSON.parse(readFileSync(args.keys, "utf8")) : [];
if (keys.length === 0 || args.rotate) keys = [newKey(), ...keys];
writeFileSync(args.keys, JSON.stringify(keys));

const clientId = args["client-id"];
const users = JSON.parse(args.users);
const issuer = `http://127.0.0.1:${args.port}`;
const day = 24 * 3600;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: args["client-secret"],
    redirect_uris: args.redirect.split(","),
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  conformIdTokenClaims: false,
  jwks: { keys },
  cookies: { keys: ["cookie-key-for-tests-only"] },
  // Long enough that cookies outlive a provider whose clock runs behind.
  ttl: { IdToken: 600, Interaction: day, Session: day, Grant: day, AuthorizationCode: 600, AccessToken: 600 },
  findAccount: async (_ctx, sub) => {
    const claims = users[sub];
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  // First-party: no consent screen, the grant is given at sign-in.
  loadExistingGrant: async (ctx) => {
    const id = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (id) return ctx.oidc.provider.Grant.find(id);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid email profile");
    await grant.save();
    return grant;
  },
});

if (args.forge) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === "/token" && ctx.body?.id_token) {
      const [h, c, s] = ctx.body.id_token.split(".");
      const claims = JSON.parse(Buffer.from(c, "base64url"));
      claims.email = args.forge;
      ctx.body = { ...ctx.body, id_token: [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join(".") };
    }
  });
}

const server = provider.listen(Number(args.port), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
