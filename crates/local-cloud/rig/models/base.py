"""What the rig's models share: the registry of what they made, and the Rig base class.

Each model class is a direct subclass of Rig and moto's CloudFormationModel and sets
`__module__ = "moto.<service>.models"` (moto's metaclass files models by that name). It creates
its resource in moto's own service backend where moto has one, so the service APIs (CloudFront,
Cognito, API Gateway, ...) see what the stack made, and records the raw CloudFormation
properties in RIG, so the local edge can read what moto's models drop (OAC id on origins,
function associations, cache and response headers policies): see `GET /_shipit/resources`.
"""
import json
import secrets
import string


class Registry:
    """What the rig's models created: type -> physical id -> CloudFormation properties."""

    def __init__(self):
        self.resources = {}

    def put(self, cfn_type, pid, props, attrs):
        self.resources.setdefault(cfn_type, {})[pid] = {"properties": props, "attributes": attrs}

    def drop(self, cfn_type, pid):
        self.resources.get(cfn_type, {}).pop(pid, None)

    def snapshot(self):
        return json.loads(json.dumps(self.resources, default=str))


RIG = Registry()


def rand_id(n=13, alphabet=string.ascii_uppercase + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def items(values):
    values = list(values or [])
    return {"Quantity": len(values), "Items": values}


class Rig:
    """Shared behaviour; subclasses set TYPE, ATTRS and implement make(), optionally remove()."""

    TYPE = ""
    ATTRS = ()

    def __init__(self, pid, props, attrs, account_id, region_name):
        self.pid = pid
        self.props = props
        self.attrs = attrs
        self.account_id = account_id
        self.region_name = region_name
        RIG.put(self.TYPE, pid, props, attrs)

    @staticmethod
    def cloudformation_name_type():
        return ""

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRS

    @property
    def physical_resource_id(self):
        return self.pid

    def get_cfn_attribute(self, attr):
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attr in self.attrs:
            return self.attrs[attr]
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        pid, attrs = cls.make(resource_name, props, account_id, region_name)
        return cls(pid, props, attrs, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name)

    def delete(self, account_id, region_name):
        self.remove(account_id, region_name)
        RIG.drop(self.TYPE, self.pid)

    def remove(self, account_id, region_name):
        pass
