"""An alias's RevisionId: each change makes a new one, and an update naming an old one fails.

On AWS: every change to an alias gives it a new RevisionId, and UpdateAlias with a RevisionId
that is not the alias's current one is refused (PreconditionFailedException, HTTP 412): two
deploys that both read the alias cannot both move it.
In moto: RevisionId is "not yet implemented": it never changes and is never compared, so the
second of two concurrent moves silently wins.
The patch: UpdateAlias compares the RevisionId it is given with the alias's, and each update
gives the alias a new one.
"""
import json
from urllib.parse import unquote

from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.awslambda.exceptions import PreconditionFailedException
    from moto.awslambda.models import LambdaAlias, lambda_backends
    from moto.awslambda.responses import LambdaResponse
    from moto.moto_api._internal import mock_random as random

    original_update = LambdaAlias.update
    original_response = LambdaResponse.update_alias

    def update(self, description, function_version, routing_config):
        original_update(self, description, function_version, routing_config)
        self.revision_id = str(random.uuid4())

    def update_alias(self):
        wanted = (json.loads(self.body or "{}") or {}).get("RevisionId")
        if wanted:
            function_name = unquote(self.path.rsplit("/")[-3])
            alias_name = unquote(self.path.rsplit("/", 2)[-1])
            backend = lambda_backends[self.current_account][self.region]
            alias = backend.get_alias(alias_name, function_name)
            if alias.revision_id != wanted:
                raise PreconditionFailedException(
                    "The Revision Id provided does not match the latest Revision Id. Call the "
                    "GetAlias API to retrieve the latest Revision Id")
        return original_response(self)

    LambdaAlias.update = update
    LambdaResponse.update_alias = update_alias
