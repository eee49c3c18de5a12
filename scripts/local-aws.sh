# Sourced by stack.sh and bench-function.sh: the environment every function and `piraeus
# provision` needs to find moto (S3, DynamoDB) on loopback, and the bucket and table named
# RESOURCES, as the template's Globals give them on AWS.
# Usage: local_aws_environment MOTO_PORT RESOURCES SCRATCH
local_aws_environment() {
    export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
    export AWS_ACCESS_KEY_ID=piraeus-local AWS_SECRET_ACCESS_KEY=piraeus-local
    export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    export PIRAEUS_STORE="s3://$2" PIRAEUS_INDEX="dynamodb://$2"
    export PIRAEUS_FETCH_FUNCTION=piraeus-fetch
    export PIRAEUS_SCRATCH_DIR="$3/fetch"
}
