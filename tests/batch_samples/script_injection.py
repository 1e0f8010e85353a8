"""Adversarial: every text a student controls carries markup and script; the reports must show it as text."""
# assignment: conv-arithmetic
PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b id="injected">bold</b>'
print(PAYLOAD)


def conv_params(n, c_in, c_out, bias=True):
    raise ValueError(PAYLOAD)


def conv_output_size(w, n, stride=1, padding=0):
    print(PAYLOAD)
    return PAYLOAD


def pool_output_size(w, z, stride=None, padding=0):
    return {"</pre><script>window.__pwned = 3</script>": 1}


# %%
raise RuntimeError(PAYLOAD)
