// IAM through the SDK, signed with the keys in the environment: an OpenID Connect provider's
// life (create, get, list, delete, get after the delete) and a role's (create, get, delete).
import * as iam from "@aws-sdk/client-iam";
import { described, input, scenario } from "./lib.mjs";

await scenario(async () => {
  const client = new iam.IAMClient({ maxAttempts: 1 });
  const send = async (name, params) => {
    const { $metadata, ...output } = await client.send(new iam[`${name}Command`](params));
    return { ...output, httpStatusCode: $metadata.httpStatusCode };
  };
  const failure = async (name, params) => {
    try {
      await client.send(new iam[`${name}Command`](params));
    } catch (error) {
      return described(error);
    }
    return null;
  };
  const created = await send("CreateOpenIDConnectProvider", {
    Url: input("OIDC_URL"), ClientIDList: JSON.parse(input("CLIENT_IDS")),
  });
  const arn = created.OpenIDConnectProviderArn;
  const provider = {
    created,
    got: await send("GetOpenIDConnectProvider", { OpenIDConnectProviderArn: arn }),
    listed: await send("ListOpenIDConnectProviders", {}),
    deleted: await send("DeleteOpenIDConnectProvider", { OpenIDConnectProviderArn: arn }),
    gotAfterDelete: await failure("GetOpenIDConnectProvider", { OpenIDConnectProviderArn: arn }),
  };
  const role = JSON.parse(input("ROLE"));  // CreateRole's input
  const roles = {
    created: await send("CreateRole", role),
    got: await send("GetRole", { RoleName: role.RoleName }),
    deleted: await send("DeleteRole", { RoleName: role.RoleName }),
    gotAfterDelete: await failure("GetRole", { RoleName: role.RoleName }),
  };
  roles.trustDecoded = decodeURIComponent(roles.got.Role.AssumeRolePolicyDocument);
  return { provider, role: roles };
});
