"""ElastiCache types moto's CloudFormation skips: the subnet group (in moto's ElastiCache
backend) and the replication group (recorded in RIG only: with the data tier on, a real
redis-server with TLS and the group's AUTH token at 127.0.0.1, rig/datatier.py; otherwise
made-up endpoints)."""
import json
import re

from moto.secretsmanager.models import secretsmanager_backends

from rig import datatier
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
        port = "6379"
        if datatier.enabled():
            token = resolve(props.get("AuthToken") or "", account_id, region_name)
            cls.servers[(account_id, region_name, group)] = server = datatier.start_redis(token)
            host = reader = "127.0.0.1"
            port = str(server.port)
        return group, {"PrimaryEndPoint.Address": host, "PrimaryEndPoint.Port": port,
                       "ReaderEndPoint.Address": reader, "ReaderEndPoint.Port": port,
                       "ConfigurationEndPoint.Address": "", "ConfigurationEndPoint.Port": ""}

    servers = {}

    def remove(self, account_id, region_name):
        server = self.servers.pop((account_id, region_name, self.pid), None)
        if server:
            server.stop()


def resolve(value, account_id, region_name):
    """A `{{resolve:secretsmanager:ID:SecretString[:KEY]}}` reference, as CloudFormation
    resolves it (moto hands it over as text); any other value as it is."""
    m = re.fullmatch(r"\{\{resolve:secretsmanager:(.+?):SecretString(?::([^:}]*))?[^}]*\}\}", value)
    if not m:
        return value
    secret = secretsmanager_backends[account_id][region_name].get_secret_value(
        m.group(1), None, "AWSCURRENT")["SecretString"]
    if m.group(2):
        return json.loads(secret)[m.group(2)]
    return secret
