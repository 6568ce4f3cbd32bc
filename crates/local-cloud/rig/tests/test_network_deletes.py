"""patches/network_deletes.py: a stack's VPC goes with the stack."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.42.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.42.1.0/24, AvailabilityZone: us-east-1a}
  Gateway:
    Type: AWS::EC2::InternetGateway
  Attachment:
    Type: AWS::EC2::VPCGatewayAttachment
    Properties: {VpcId: !Ref Vpc, InternetGatewayId: !Ref Gateway}
  Routes:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  DefaultRoute:
    Type: AWS::EC2::Route
    DependsOn: Attachment
    Properties:
      RouteTableId: !Ref Routes
      DestinationCidrBlock: 0.0.0.0/0
      GatewayId: !Ref Gateway
  SubnetRoutes:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref Subnet, RouteTableId: !Ref Routes}
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: com.amazonaws.us-east-1.s3
      VpcEndpointType: Gateway
      RouteTableIds: [!Ref Routes]
"""


class NetworkDeletes(CloudTest):
    def test_delete_stack_deletes_the_network(self):
        self.deploy("s", TEMPLATE)
        vpc = self.physical_ids("s")["Vpc"]
        self.cfn.delete_stack(StackName="s")
        ec2 = self.client("ec2")
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"]
        self.assertEqual(vpcs, [])
        self.assertEqual(ec2.describe_internet_gateways()["InternetGateways"], [])
        endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
        self.assertEqual([e["State"] for e in endpoints], ["deleted"])
        stacks = self.cfn.list_stacks()["StackSummaries"]
        self.assertEqual([s["StackStatus"] for s in stacks], ["DELETE_COMPLETE"])
