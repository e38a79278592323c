"""Custom response codes: ``setResponseCode`` before returning the body."""

from relays_resources import Resource


class PaymentRequired(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setResponseCode(402)
        return b"<html><body>Please pay first.</body></html>"


root = PaymentRequired()
