"""ElastiCache types moto's CloudFormation skips: the subnet group (in moto's ElastiCache
backend) and the replication group (its endpoints made up and recorded in RIG only)."""
from moto.core.common_models import CloudFormationModel
from moto.elasticache.models import elasticache_backends

from rig.models.base import Rig, rand_id


def elasticache(account_id, region_name):
    return elasticache_backends[account_id][region_name]


class RigCacheSubnetGroup(Rig, CloudFormationModel):
    __module__ = "moto.elasticache.models"
    TYPE = "AWS::ElastiCache::SubnetGroup"

    @staticmethod
    def cloudformation_type():
        return RigCacheSubnetGroup.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        group = (props.get("CacheSubnetGroupName") or name).lower()
        elasticache(account_id, region_name).create_cache_subnet_group(
            group, props.get("Description", ""), props.get("SubnetIds", []), None)
        return group, {}

    def remove(self, account_id, region_name):
        backend = elasticache(account_id, region_name)
        try:
            backend.delete_cache_subnet_group(self.pid)
        except Exception:
            getattr(backend, "cache_subnet_groups", {}).pop(self.pid, None)


class RigReplicationGroup(Rig, CloudFormationModel):
    __module__ = "moto.elasticache.models"
    TYPE = "AWS::ElastiCache::ReplicationGroup"
    ATTRS = ("PrimaryEndPoint.Address", "PrimaryEndPoint.Port", "ReaderEndPoint.Address",
             "ReaderEndPoint.Port", "ConfigurationEndPoint.Address", "ConfigurationEndPoint.Port")

    @staticmethod
    def cloudformation_type():
        return RigReplicationGroup.TYPE

    @classmethod
    def make(cls, name, props, account_id, region_name):
        group = (props.get("ReplicationGroupId") or name).lower()[:40]
        host = f"master.{group}.{rand_id(6).lower()}.{region_name[:3]}1.cache.amazonaws.com"
        reader = host.replace("master.", "replica.", 1)
        return group, {"PrimaryEndPoint.Address": host, "PrimaryEndPoint.Port": "6379",
                       "ReaderEndPoint.Address": reader, "ReaderEndPoint.Port": "6379",
                       "ConfigurationEndPoint.Address": "", "ConfigurationEndPoint.Port": ""}
