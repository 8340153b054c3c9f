// The SDK's own credential providers, each as its users configure it, then a call with the
// credentials it got. PROVIDER names one:
// - token-file: fromTokenFile(), reading AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and
//   AWS_ROLE_SESSION_NAME, calls AssumeRoleWithWebIdentity;
// - default-chain: no credentials given to the client, which finds them itself (the environment's
//   web identity settings, as a Kubernetes pod has them);
// - temporary: fromTemporaryCredentials() calls AssumeRole (ROLE_ARN, SESSION_NAME) signed with the
//   environment's keys;
// - ini: fromIni() with PROFILE, a profile of AWS_CONFIG_FILE (role_arn + source_profile, ...).
// Every STS client, the providers' own included, finds the endpoint in AWS_ENDPOINT_URL_STS.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromIni, fromTemporaryCredentials, fromTokenFile } from "@aws-sdk/credential-providers";
import { input, scenario } from "./lib.mjs";

const PROVIDERS = {
  "token-file": () => fromTokenFile(),
  "default-chain": () => undefined,
  temporary: () => fromTemporaryCredentials({
    params: { RoleArn: input("ROLE_ARN"), RoleSessionName: input("SESSION_NAME") },
  }),
  ini: () => fromIni({ profile: input("PROFILE") }),
};

await scenario(async () => {
  const provider = PROVIDERS[input("PROVIDER")]();
  const sts = new STSClient({ maxAttempts: 1, ...(provider ? { credentials: provider } : {}) });
  const credentials = await sts.config.credentials();
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  return {
    credentials: {
      AccessKeyId: credentials.accessKeyId,
      SecretAccessKeyLength: credentials.secretAccessKey.length,
      HasSessionToken: typeof credentials.sessionToken === "string" && credentials.sessionToken.length > 0,
      ExpirationIsDate: credentials.expiration instanceof Date,
    },
    identity: { UserId: identity.UserId, Account: identity.Account, Arn: identity.Arn },
  };
});
