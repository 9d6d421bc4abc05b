// A self-signed certificate for localhost and 127.0.0.1 (EC P-256, valid until 2126), for tests of
// node:https servers on the loopback. Test material only: the key is public.
export const key = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSFFCH3hIuxNhPOe2
HuPiRMP69h9mjpdb5oAG00rgzzGhRANCAATU3UZpl91ms1kRKnkTF/hET6cfSDnk
1eioIxAFch56JP78yjrTzqzLvuUnGIxr++B4+rnomGnQfya7mRUdSlcM
-----END PRIVATE KEY-----
`
export const cert = `-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUNBdya6/HKS5mqmkABFMYsN5VyWYwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEzMDExNTA0M1oYDzIxMjYxMTA2
MTE1MDQzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATU3UZpl91ms1kRKnkTF/hET6cfSDnk1eioIxAFch56JP78yjrTzqzL
vuUnGIxr++B4+rnomGnQfya7mRUdSlcMo28wbTAdBgNVHQ4EFgQU3R1tjXRqlExV
K5itulKjtEbrNdYwHwYDVR0jBBgwFoAU3R1tjXRqlExVK5itulKjtEbrNdYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgVRz9Uq8sbHh4VPO8Q6VTAMTegtWoCNT0R+Ophz9yJFICIHvQ
v2PwhCwuM1PGsLwd0fq/DkiEO1KGL34Sy3Yr2M6x
-----END CERTIFICATE-----
`
