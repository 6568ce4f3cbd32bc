"""models/: every CloudFormation type the rig adds is created in moto's backends, answers its
GetAtts, is recorded for GET /_shipit/resources, and goes with its stack."""
from moto.apigateway.models import apigateway_backends

from rig.tests.support import CloudTest, function_resources

TEMPLATE = """
Resources:
  Site:
    Type: AWS::S3::Bucket
    Properties: {BucketName: shipit-rig-site}
  SitePolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Site
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: cloudfront.amazonaws.com}
            Action: s3:GetObject
            Resource: arn:aws:s3:::shipit-rig-site/*
  Oac:
    Type: AWS::CloudFront::OriginAccessControl
    Properties:
      OriginAccessControlConfig:
        Name: site
        OriginAccessControlOriginType: s3
        SigningBehavior: always
        SigningProtocol: sigv4
  Routing:
    Type: AWS::CloudFront::Function
    Properties:
      Name: routing
      AutoPublish: true
      FunctionConfig: {Comment: routing, Runtime: cloudfront-js-2.0}
      FunctionCode: "function handler(event) { return event.request; }"
  CachePolicy:
    Type: AWS::CloudFront::CachePolicy
    Properties:
      CachePolicyConfig: {Name: site, MinTTL: 0, DefaultTTL: 300, MaxTTL: 3600}
  Headers:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: security
        SecurityHeadersConfig: {ContentTypeOptions: {Override: true}}
  Distribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        DefaultRootObject: index.html
        Origins:
          - Id: site
            DomainName: !GetAtt Site.RegionalDomainName
            OriginAccessControlId: !GetAtt Oac.Id
            S3OriginConfig: {OriginAccessIdentity: ""}
        DefaultCacheBehavior:
          TargetOriginId: site
          ViewerProtocolPolicy: redirect-to-https
          CachePolicyId: !Ref CachePolicy
          ResponseHeadersPolicyId: !Ref Headers
          FunctionAssociations:
            - EventType: viewer-request
              FunctionARN: !GetAtt Routing.FunctionARN
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: api}
  Health:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: health}
  HealthGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Health
      HttpMethod: GET
      AuthorizationType: NONE
      Integration: {Type: MOCK, IntegrationHttpMethod: POST, Uri: ""}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: HealthGet
    Properties: {RestApiId: !Ref Api}
  ApiAccount:
    Type: AWS::ApiGateway::Account
    Properties: {CloudWatchRoleArn: arn:aws:iam::123456789012:role/logs}
  Cors4xx:
    Type: AWS::ApiGateway::GatewayResponse
    Properties:
      RestApiId: !Ref Api
      ResponseType: DEFAULT_4XX
      ResponseParameters: {gatewayresponse.header.Vary: "'Origin'"}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Api, DeploymentId: !Ref Deployment, StageName: live}
  Users:
    Type: AWS::Cognito::UserPool
    Properties: {UserPoolName: users, UsernameAttributes: [email]}
  UsersClient:
    Type: AWS::Cognito::UserPoolClient
    Properties: {UserPoolId: !Ref Users, GenerateSecret: false}
  Authorizer:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      Name: cognito
      RestApiId: !Ref Api
      Type: COGNITO_USER_POOLS
      IdentitySource: method.request.header.Authorization
      ProviderARNs: [!GetAtt Users.Arn]
  ApiDomain:
    Type: AWS::ApiGateway::DomainName
    Properties:
      DomainName: api.example.com
      RegionalCertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc
      EndpointConfiguration: {Types: [REGIONAL]}
  ApiMapping:
    Type: AWS::ApiGateway::BasePathMapping
    Properties: {DomainName: !Ref ApiDomain, RestApiId: !Ref Api, Stage: !Ref Stage}
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.42.0.0/16}
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.42.1.0/24, AvailabilityZone: us-east-1a}
  AppGroup:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: app, VpcId: !Ref Vpc}
  CacheGroup:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: cache, VpcId: !Ref Vpc}
  Link:
    Type: AWS::ApiGatewayV2::VpcLink
    Properties: {Name: link, SubnetIds: [!Ref SubnetA], SecurityGroupIds: [!Ref AppGroup]}
  AppToCache:
    Type: AWS::EC2::SecurityGroupEgress
    Properties:
      GroupId: !Ref AppGroup
      IpProtocol: tcp
      FromPort: 6379
      ToPort: 6379
      DestinationSecurityGroupId: !Ref CacheGroup
  Token:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: Redis AUTH token
      GenerateSecretString: {PasswordLength: 64, ExcludePunctuation: true}
  CacheSubnets:
    Type: AWS::ElastiCache::SubnetGroup
    Properties: {Description: cache, SubnetIds: [!Ref SubnetA]}
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: cache
      Engine: redis
      CacheNodeType: cache.t4g.micro
      NumCacheClusters: 1
      CacheSubnetGroupName: !Ref CacheSubnets
      SecurityGroupIds: [!Ref CacheGroup]
""" + function_resources(role="FnRole") + """  FnVersion:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  FnAlias:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: live, FunctionVersion: !GetAtt FnVersion.Version}
  ApiAcl:
    Type: AWS::WAFv2::WebACL
    Properties:
      Name: api
      Scope: REGIONAL
      DefaultAction: {Allow: {}}
      VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: api}
      Rules:
        - Name: rate
          Priority: 0
          Action: {Block: {}}
          Statement: {RateBasedStatement: {Limit: 100, AggregateKeyType: IP}}
          VisibilityConfig: {SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: rate}
  ApiAclAssociation:
    Type: AWS::WAFv2::WebACLAssociation
    Properties:
      ResourceArn: !Sub "arn:aws:apigateway:us-east-1::/restapis/${Api}/stages/live"
      WebACLArn: !GetAtt ApiAcl.Arn
Outputs:
  DistributionDomainName: {Value: !GetAtt Distribution.DomainName}
  DistributionId: {Value: !GetAtt Distribution.Id}
  FunctionArn: {Value: {"Fn::GetAtt": [Routing, FunctionMetadata.FunctionARN]}}
  UserPoolProviderUrl: {Value: !GetAtt Users.ProviderURL}
  UserPoolArn: {Value: !GetAtt Users.Arn}
  ClientId: {Value: !Ref UsersClient}
  ApiDomain: {Value: !GetAtt ApiDomain.RegionalDomainName}
  RedisEndpoint: {Value: {"Fn::GetAtt": [Cache, PrimaryEndPoint.Address]}}
  TokenArn: {Value: !Ref Token}
"""


class Models(CloudTest):
    def test_every_type(self):
        self.assertEqual(self.deploy("s", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")
        outputs = self.outputs("s")
        self.assertEqual(len(outputs), 9, outputs)
        self.assertTrue(outputs["DistributionDomainName"].endswith(".cloudfront.net"), outputs)
        self.assertTrue(outputs["FunctionArn"].endswith(":function/routing"), outputs)
        self.assertRegex(outputs["UserPoolProviderUrl"],
                         r"^https://cognito-idp\.us-east-1\.amazonaws\.com/us-east-1_")
        self.assertRegex(outputs["RedisEndpoint"], r"^master\.")

        # Imported only now: importing rig.models registers the models, which `--without models`
        # must not do before the stack above is made.
        from rig.models import MODELS, RIG

        ids = self.physical_ids("s")
        made = {r["ResourceType"]: r.get("PhysicalResourceId")
                for r in self.cfn.describe_stack_resources(StackName="s")["StackResources"]
                if r.get("ResourceType")}
        self.assertEqual({m.TYPE for m in MODELS} - set(made), set())
        snapshot = RIG.snapshot()
        for model in MODELS:
            self.assertIn(made[model.TYPE], snapshot.get(model.TYPE, {}), model.TYPE)
        # What moto's CloudFront drops and the local edge reads from RIG.
        config = snapshot["AWS::CloudFront::Distribution"][ids["Distribution"]]["properties"]
        behavior = config["DistributionConfig"]["DefaultCacheBehavior"]
        self.assertEqual(behavior["FunctionAssociations"][0]["FunctionARN"], outputs["FunctionArn"])
        self.assertEqual(behavior["CachePolicyId"], ids["CachePolicy"])

        # What the models made, seen through the services' own APIs.
        cloudfront = self.client("cloudfront")
        dist = cloudfront.get_distribution(Id=outputs["DistributionId"])["Distribution"]
        self.assertEqual(dist["DistributionConfig"]["Origins"]["Items"][0]["DomainName"],
                         "shipit-rig-site.s3.us-east-1.amazonaws.com")
        oac = cloudfront.get_origin_access_control(Id=ids["Oac"])["OriginAccessControl"]
        self.assertEqual(oac["OriginAccessControlConfig"]["Name"], "site")
        policy = self.client("s3").get_bucket_policy(Bucket="shipit-rig-site")["Policy"]
        self.assertIn("cloudfront.amazonaws.com", policy)
        # moto's Deployment model gives its object for Ref, which GetStage cannot serialise: ask
        # the backend.
        stage = apigateway_backends["123456789012"]["us-east-1"].get_stage(ids["Api"], "live")
        self.assertEqual(stage.name, "live")
        authorizer = self.client("apigateway").get_authorizer(restApiId=ids["Api"],
                                                              authorizerId=ids["Authorizer"])
        self.assertEqual(authorizer["providerARNs"], [outputs["UserPoolArn"]])
        cognito = self.client("cognito-idp")
        client = cognito.describe_user_pool_client(UserPoolId=ids["Users"],
                                                   ClientId=outputs["ClientId"])["UserPoolClient"]
        self.assertEqual(client["UserPoolId"], ids["Users"])
        secrets = self.client("secretsmanager")
        token = secrets.get_secret_value(SecretId=outputs["TokenArn"])["SecretString"]
        self.assertRegex(token, r"^[A-Za-z0-9]{64}$")
        ec2 = self.client("ec2")
        group = ec2.describe_security_groups(GroupIds=[ids["AppGroup"]])["SecurityGroups"][0]
        self.assertIn(ids["CacheGroup"], [pair["GroupId"] for rule in group["IpPermissionsEgress"]
                                          for pair in rule.get("UserIdGroupPairs", [])])
        waf = self.client("wafv2")
        acls = waf.list_web_acls(Scope="REGIONAL")["WebACLs"]
        self.assertEqual([a["Name"] for a in acls], ["api"])
        stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{ids['Api']}/stages/live"
        self.assertEqual(waf.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["Name"], "api")
        subnets = self.client("elasticache").describe_cache_subnet_groups()["CacheSubnetGroups"]
        self.assertEqual([g["CacheSubnetGroupName"] for g in subnets], [ids["CacheSubnets"]])

        self.cfn.delete_stack(StackName="s")
        snapshot = RIG.snapshot()
        for model in MODELS:
            self.assertNotIn(made[model.TYPE], snapshot.get(model.TYPE, {}), model.TYPE)
        self.assertEqual(cloudfront.list_distributions()["DistributionList"].get("Items", []), [])
        self.assertEqual(cognito.list_user_pools(MaxResults=10)["UserPools"], [])


LOGGING_STAGE = """Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: api}
  Health:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: health}
  HealthGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Health
      HttpMethod: GET
      AuthorizationType: NONE
      Integration: {Type: MOCK}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: HealthGet
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: live
      MethodSettings: [{ResourcePath: "/*", HttpMethod: "*", LoggingLevel: ERROR}]
"""

ACCOUNT_SETTING = """Resources:
  Account:
    Type: AWS::ApiGateway::Account
    Properties: {CloudWatchRoleArn: arn:aws:iam::123456789012:role/apigateway-logs}
"""


class AccountWideLogging(CloudTest):
    def test_a_logging_stage_needs_the_accounts_cloudwatch_role(self):
        # As API Gateway: the account and region's CloudWatch role must be set first.
        self.assertEqual(self.deploy("app", LOGGING_STAGE)["StackStatus"], "ROLLBACK_COMPLETE")
        events = self.cfn.describe_stack_events(StackName="app")["StackEvents"]
        self.assertTrue(any("CloudWatch Logs role ARN must be set" in (e.get("ResourceStatusReason") or "")
                            for e in events), events)
        self.cfn.delete_stack(StackName="app")
        self.assertEqual(self.deploy("setting", ACCOUNT_SETTING)["StackStatus"], "CREATE_COMPLETE")
        account = self.client("apigateway").get_account()
        self.assertEqual(account["cloudwatchRoleArn"], "arn:aws:iam::123456789012:role/apigateway-logs")
        self.assertEqual(self.deploy("app2", LOGGING_STAGE)["StackStatus"], "CREATE_COMPLETE")
