def test_issue_and_call(api):
    r = api.as_("reception").post("/tickets", {"office": "OAC"})
    assert r.status_code == 201, r.json
    assert r.json["code"] == "A001"
    r = api.as_("clerk").post("/desks/1/call-next")
    assert r.status_code == 200 and r.json["desk"] == "Taulell 1"
