/*
 * fuzz_keys.h - test-only certificates and EC P-256 keys of the handshake
 * harness (a CA, a server and a client certificate, valid 2026-2126),
 * made once with openssl req/x509.  Never use them outside the tests.
 */
#ifndef FTPS_FUZZ_KEYS_H
#define FTPS_FUZZ_KEYS_H

static const char fuzz_ca_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBaTCCAQ+gAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBtb2RfZnRw\n"
  "cyBmdXp6IENBMCAXDTI2MTIwNTExMjExNloYDzIxMjYxMTExMTEyMTE2WjAbMRkw\n"
  "FwYDVQQDDBBtb2RfZnRwcyBmdXp6IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD\n"
  "QgAE/6Itv7JfKq+54abpZPJfzLpYS0O52dHTkiqtnarY4uX3l/7FHMh9VRsA2f3q\n"
  "ILduCGXL42cd5aYXnRX8macWxqNCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B\n"
  "Af8EBAMCAQYwHQYDVR0OBBYEFBi/QF9xJu6vNERDJJIZXP8/mmkgMAoGCCqGSM49\n"
  "BAMCA0gAMEUCIEyhVCIR1OTpvyDxlM3k8+ad6AjGlOFV1r068/Q+CnetAiEAprsv\n"
  "AYGqa4zRonD3o2vdrrSBpg5aMorwundOZpfvj3E=\n"
  "-----END CERTIFICATE-----\n"
  ;

static const char fuzz_srv_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBszCCAVmgAwIBAgIBAjAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBtb2RfZnRw\n"
  "cyBmdXp6IENBMCAXDTI2MTIwNTExMjExNloYDzIxMjYxMTExMTEyMTE2WjAUMRIw\n"
  "EAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASfz5dE\n"
  "RaIAByel4X//LTP9/UHkH6OmuB6sUv+sKwHWPs/6eTLh0qK8+zcOZYSsnb4Z47mz\n"
  "zv8nU5+zKvNwXU4yo4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeA\n"
  "MBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcEfwAA\n"
  "ATAdBgNVHQ4EFgQUt4nY5URSh4p1VslMwn7D1qmyl5MwHwYDVR0jBBgwFoAUGL9A\n"
  "X3Em7q80REMkkhlc/z+aaSAwCgYIKoZIzj0EAwIDSAAwRQIgVm+R0y2YpAku0fld\n"
  "DEQ4y6Ad1XmtzvoxqAcOEcd2jW8CIQDuLhTVPkX6O1poZBHDlQMGt6Xz/L0Xt7QN\n"
  "84fO+RI5kw==\n"
  "-----END CERTIFICATE-----\n"
  ;

static const char fuzz_srv_key[] =
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaUQ/MA54+ko/EXFq\n"
  "thBjvQejHKyEBWY/gDsy41acI0uhRANCAASfz5dERaIAByel4X//LTP9/UHkH6Om\n"
  "uB6sUv+sKwHWPs/6eTLh0qK8+zcOZYSsnb4Z47mzzv8nU5+zKvNwXU4y\n"
  "-----END PRIVATE KEY-----\n"
  ;

static const char fuzz_cli_pem[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIICADCCAaagAwIBAgIBAzAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBtb2RfZnRw\n"
  "cyBmdXp6IENBMCAXDTI2MTIwNTExMjExNloYDzIxMjYxMTExMTEyMTE2WjBOMQsw\n"
  "CQYDVQQGEwJERTENMAsGA1UECgwEZnV6ejEOMAwGA1UEAwwFYWxpY2UxIDAeBgkq\n"
  "hkiG9w0BCQEWEWFsaWNlQGV4YW1wbGUub3JnMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
  "AQcDQgAE4Rn0r/seNEPVBbURVM0GSyego36tw6uHu43DsZpimJWW3XmuTMnRtLky\n"
  "mUpKMK5Pw1iP+0mXKz56xgUdr+yPvKOBpTCBojAMBgNVHRMBAf8EAjAAMA4GA1Ud\n"
  "DwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDAjAtBgNVHREEJjAkgRFhbGlj\n"
  "ZUBleGFtcGxlLm9yZ4IJbG9jYWxob3N0hwR/AAABMB0GA1UdDgQWBBT/hoyf8B0m\n"
  "EtYv0FpZoESZxEQAuzAfBgNVHSMEGDAWgBQYv0BfcSburzREQySSGVz/P5ppIDAK\n"
  "BggqhkjOPQQDAgNIADBFAiBddMPYU0ss1h72HAE4ujWgoSme3XAgYUVY72NWvBka\n"
  "0QIhAKTnjSkm9qKlocK+r3kplz1pfgVmCoFsYrqXsk/EeYvC\n"
  "-----END CERTIFICATE-----\n"
  ;

static const char fuzz_cli_key[] =
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvYvRIDVTwgItuCHm\n"
  "ZELhLiZUVBRWPaoe5uGMhCFu9G6hRANCAAThGfSv+x40Q9UFtRFUzQZLJ6Cjfq3D\n"
  "q4e7jcOxmmKYlZbdea5MydG0uTKZSkowrk/DWI/7SZcrPnrGBR2v7I+8\n"
  "-----END PRIVATE KEY-----\n"
  ;

#endif /* FTPS_FUZZ_KEYS_H */
