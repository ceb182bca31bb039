# Average PER per industry: the industry list, each industry's members, one MarketEye each.
import win32com.client

codes = win32com.client.Dispatch("CpUtil.CpCodeMgr")
eye = win32com.client.Dispatch("CpSysDib.MarketEye")

for industry in codes.GetIndustryList():
    members = codes.GetGroupCodeList(industry)
    if not members or industry in ("001", "002", "003", "004"):
        continue
    eye.SetInputValue(0, 67)
    eye.SetInputValue(1, members[:200])
    eye.BlockRequest()
    count = eye.GetHeaderValue(2)
    pers = [eye.GetDataValue(0, i) for i in range(count)]
    print(industry, codes.GetIndustryName(industry), count, round(sum(pers) / count, 2))

# An industry asked by number, as many scripts do (COM turns 13 into "013").
print("electronics", len(codes.GetGroupCodeList(13)))
