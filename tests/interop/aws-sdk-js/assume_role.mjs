// AssumeRole signed (SigV4) with the long-term keys of AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// then GetCallerIdentity with the session credentials it returned.
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { input, scenario } from "./lib.mjs";

await scenario(async () => {
  const sts = new STSClient({ maxAttempts: 1 });
  const out = await sts.send(new AssumeRoleCommand({
    RoleArn: input("ROLE_ARN"), RoleSessionName: input("SESSION_NAME"), DurationSeconds: 900,
  }));
  const c = out.Credentials;
  const session = new STSClient({
    maxAttempts: 1,
    credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken },
  });
  const identity = await session.send(new GetCallerIdentityCommand({}));
  return {
    assumed: {
      AssumedRoleUser: out.AssumedRoleUser,
      AccessKeyId: c.AccessKeyId,
      SecretAccessKeyLength: c.SecretAccessKey.length,
      SessionTokenLength: c.SessionToken.length,
      ExpirationIsDate: c.Expiration instanceof Date,
      Expiration: c.Expiration.toISOString(),
      PackedPolicySize: out.PackedPolicySize ?? null,
      requestId: out.$metadata.requestId,
    },
    identity: { UserId: identity.UserId, Account: identity.Account, Arn: identity.Arn },
  };
});
