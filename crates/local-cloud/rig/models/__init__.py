"""CloudFormation resource types moto's CloudFormation skips, made real for the local cloud.

moto 5.2 silently skips these types (a stack still reaches CREATE_COMPLETE, outputs referring
to them vanish, a GetAtt on them in Outputs is an HTTP 500). moto builds its type map from
`CloudFormationModel.__subclasses__()` on first use, so importing this package before the server
handles its first request registers them (rig.install() does). One file per service, imported
in the order of MODELS; what they share (the Rig base class, and RIG, what they created) is in
base.py.
"""
from rig.moto_version import check

check("rig.models")

from rig.models.base import RIG
from rig.models.s3 import RigBucketPolicy
from rig.models.cloudfront import (RigOriginAccessControl, RigCloudFrontFunction, RigCachePolicy,
                                   RigResponseHeadersPolicy, RigDistribution)
from rig.models.apigateway import (RigApiStage, RigApiAuthorizer, RigApiAccount, RigApiDomainName,
                                   RigApiBasePathMapping, RigGatewayResponse, RigVpcLink)
from rig.models.cognito import RigUserPool, RigUserPoolClient
from rig.models.ec2 import RigSecurityGroupEgress
from rig.models.secretsmanager import RigSecret
from rig.models.elasticache import RigCacheSubnetGroup, RigReplicationGroup
from rig.models.awslambda import RigLambdaVersion, RigLambdaAlias
from rig.models.wafv2 import RigWebAcl, RigWebAclAssociation

MODELS = [RigBucketPolicy, RigOriginAccessControl, RigCloudFrontFunction, RigCachePolicy,
          RigResponseHeadersPolicy, RigDistribution, RigApiStage, RigApiAuthorizer, RigApiAccount,
          RigApiDomainName, RigApiBasePathMapping, RigGatewayResponse, RigVpcLink, RigUserPool, RigUserPoolClient,
          RigSecurityGroupEgress, RigSecret, RigCacheSubnetGroup, RigReplicationGroup,
          RigLambdaVersion, RigLambdaAlias, RigWebAcl, RigWebAclAssociation]
