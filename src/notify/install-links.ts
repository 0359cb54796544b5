// The one-tap eSIM installation links of the activation e-mail: they carry the activation code
// itself, so the phone installs the same profile as from the QR code.

export interface InstallLinks {
  /** iOS 17.4+: opens the eSIM installation directly. */
  ios: string;
  android: string;
}

export function installLinks(code: string): InstallLinks {
  const carddata = encodeURIComponent(code);
  return {
    ios: `https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=${carddata}`,
    android: `https://esimsetup.android.com/esim_qrcode_provisioning?carddata=${carddata}`,
  };
}
