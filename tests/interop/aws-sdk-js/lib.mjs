// Shared by the scenario scripts of tests/integration/test_aws_sdk_js.py: each script reads its
// inputs from the environment and prints one JSON document on stdout. The SDK finds the endpoint
// (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_IAM), the region and the keys in the environment itself.

export function input(name) {
  const value = process.env[name];
  if (value === undefined) throw new Error(`environment variable ${name} is not set`);
  return value;
}

// What a test asserts about an error the SDK raised.
export function described(error) {
  return {
    name: error.name,
    message: error.message,
    fault: error.$fault,
    code: error.Code,
    type: error.Type,
    httpStatusCode: error.$metadata?.httpStatusCode,
    requestId: error.$metadata?.requestId,
  };
}

// Runs the scenario and prints its result; an error it did not expect is printed too, exit code 1.
export async function scenario(body) {
  try {
    process.stdout.write(JSON.stringify(await body()) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ unexpected: described(error), stack: error.stack }) + "\n");
    process.exitCode = 1;
  }
}
