// STS calls through the SDK: each of CALLS (JSON: [{command, input, credentials?}]) is sent and
// its output (without $metadata) or the error the SDK raised (described) is printed, in order.
// AssumeRoleWithWebIdentity goes unsigned, as the SDK sends it; the others are signed with the
// call's credentials ({accessKeyId, secretAccessKey, sessionToken?}) or the environment's keys.
import * as sdk from "@aws-sdk/client-sts";
import { described, input, scenario } from "./lib.mjs";

await scenario(async () => {
  const results = [];
  for (const { command, input: params, credentials } of JSON.parse(input("CALLS"))) {
    const sts = new sdk.STSClient({ maxAttempts: 1, ...(credentials ? { credentials } : {}) });
    try {
      const { $metadata, ...output } = await sts.send(new sdk[`${command}Command`](params));
      results.push({ output, requestId: $metadata.requestId, httpStatusCode: $metadata.httpStatusCode });
    } catch (error) {
      results.push({ error: described(error) });
    }
  }
  return results;
});
