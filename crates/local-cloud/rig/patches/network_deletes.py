"""Route tables, VPC endpoints, gateway attachments and internet gateways deleted with their stack.

On AWS: deleting a stack deletes every resource it made, so its VPC goes too.
In moto: route tables (and routes in them), VPC endpoints, VPC gateway attachments and internet
gateways made by CloudFormation have no delete, so they outlive the stack and the VPC cannot be
deleted either (DependencyViolation): `shipit destroy` could never finish.
The patch: gives RouteTable, VPCEndPoint, VPCGatewayAttachment and InternetGateway a delete
through moto's EC2 backend (disassociating, detaching first; tolerating what is already gone).
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.internet_gateways import InternetGateway
    from moto.ec2.models.route_tables import RouteTable
    from moto.ec2.models.vpcs import VPCEndPoint
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def ec2(account_id, region_name):
        return ec2_backends[account_id][region_name]

    def route_table_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        for association_id in list(getattr(self, "associations", {}) or {}):
            try:
                backend.disassociate_route_table(association_id)
            except Exception:
                self.associations.pop(association_id, None)
        backend.delete_route_table(self.id)

    def endpoint_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        # Its route tables may be gone already; the endpoint goes regardless.
        self.route_table_ids = [r for r in (self.route_table_ids or []) if r in backend.route_tables]
        backend.delete_vpc_endpoints([self.id])

    def attachment_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        if self.gateway_id in backend.internet_gateways:  # else gone with its gateway already
            backend.detach_internet_gateway(self.gateway_id, self.vpc_id)

    def gateway_delete(self, account_id, region_name):
        backend = ec2(account_id, region_name)
        if getattr(self, "vpc", None) is not None:
            backend.detach_internet_gateway(self.id, self.vpc.id)
        backend.delete_internet_gateway(self.id)

    RouteTable.delete = route_table_delete
    VPCEndPoint.delete = endpoint_delete
    VPCGatewayAttachment.delete = attachment_delete
    InternetGateway.delete = gateway_delete
