// The SDK's own web-identity credential provider: fromTokenFile() reads AWS_ROLE_ARN,
// AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_SESSION_NAME and calls AssumeRoleWithWebIdentity
// (its STS client finds the endpoint in AWS_ENDPOINT_URL_STS); then a call with those credentials.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromTokenFile } from "@aws-sdk/credential-providers";
import { scenario } from "./lib.mjs";

await scenario(async () => {
  const provider = fromTokenFile();
  const credentials = await provider();
  const sts = new STSClient({ maxAttempts: 1, credentials: provider });
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  return {
    credentials: {
      AccessKeyId: credentials.accessKeyId,
      SecretAccessKeyLength: credentials.secretAccessKey.length,
      HasSessionToken: typeof credentials.sessionToken === "string" && credentials.sessionToken.length > 0,
      ExpirationIsDate: credentials.expiration instanceof Date,
      Expiration: credentials.expiration.toISOString(),
    },
    identity: { UserId: identity.UserId, Account: identity.Account, Arn: identity.Arn },
  };
});
