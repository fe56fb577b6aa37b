"""Drives moto, the AWS-API stand-in of tests/lambda_alias.rs, with boto3 (moto's own dependency).

    stand_in.py ENDPOINT setup             function `orders` with published versions 1 and 2, alias `live` on 1
    stand_in.py ENDPOINT metrics E I       E errors and I invocations (and a 120 ms duration) of version 2 via `live`, now
    stand_in.py ENDPOINT reset             points the alias at version 1 alone
    stand_in.py ENDPOINT alias             prints the alias's routing: `1` or `1 2=0.1`
    stand_in.py ENDPOINT watch SECONDS     prints every routing the alias takes, once each, until it points at 2
                                           alone or SECONDS pass
"""

import datetime
import io
import sys
import time
import zipfile

import boto3

ENDPOINT = sys.argv[1]
KW = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
DIMENSIONS = [
    {"Name": "FunctionName", "Value": "orders"},
    {"Name": "Resource", "Value": "orders:live"},
    {"Name": "ExecutedVersion", "Value": "2"},
]


def zipped(text):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("index.py", text)
    return b.getvalue()


def routing(lam):
    a = lam.get_alias(FunctionName="orders", Name="live")
    weights = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return " ".join([a["FunctionVersion"]] + [f"{v}={w}" for v, w in sorted(weights.items())])


def main():
    lam = boto3.client("lambda", **KW)
    command = sys.argv[2]
    if command == "setup":
        role = boto3.client("iam", **KW).create_role(RoleName="orders", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = zipped("def handler(event, context):\n    return 1\n")
        lam.create_function(FunctionName="orders", Runtime="python3.11", Role=role, Handler="index.handler",
                            Code={"ZipFile": code}, Publish=True)
        lam.update_function_code(FunctionName="orders", ZipFile=zipped("def handler(event, context):\n    return 2\n"),
                                 Publish=True)
        lam.create_alias(FunctionName="orders", Name="live", FunctionVersion="1")
        print(routing(lam))
    elif command == "metrics":
        errors, invocations = float(sys.argv[3]), float(sys.argv[4])
        now = datetime.datetime.now(datetime.timezone.utc)
        boto3.client("cloudwatch", **KW).put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Errors", "Dimensions": DIMENSIONS, "Value": errors, "Timestamp": now},
            {"MetricName": "Invocations", "Dimensions": DIMENSIONS, "Value": invocations, "Timestamp": now},
            {"MetricName": "Duration", "Dimensions": DIMENSIONS, "Value": 120.0, "Timestamp": now},
        ])
    elif command == "reset":
        lam.update_alias(FunctionName="orders", Name="live", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {}})
    elif command == "alias":
        print(routing(lam))
    elif command == "watch":
        deadline = time.time() + float(sys.argv[3])
        seen = []
        while time.time() < deadline:
            r = routing(lam)
            if not seen or seen[-1] != r:
                seen.append(r)
                print(r, flush=True)
            if r == "2":
                break
            time.sleep(0.05)
    else:
        sys.exit(f"unknown command {command}")


main()
