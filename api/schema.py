"""OpenAPI post-processing: shared components (envelopes, errors, write Structs)."""


def postprocess(result, generator, request, public):
    return result
